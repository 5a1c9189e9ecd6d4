//! The REST API as the `/api` page shows it: each operation of the OpenAPI document, flattened.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiParameter {
    pub name: String,
    /// `path` or `query`.
    pub location: String,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiOperation {
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<ApiParameter>,
    /// A JSON body to start from, for operations that take one.
    pub request_example: Option<String>,
    /// (status, what it means).
    pub responses: Vec<(u16, String)>,
}
