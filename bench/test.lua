-- wrk: POST /v1/connectors/test (an unsaved Stripe config) with a bearer token.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"connector_type":"stripe","config":{"api_key":"sk_test_good_4242424242"}}'
