-- wrk: POST /v1/connectors with a bearer token (TOKEN from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"connector_type":"stripe","display_name":"Bench","config":{"api_key":"sk_test_good_4242424242"}}'
