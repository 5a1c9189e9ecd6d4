-- wrk: GET /v1/connectors?limit=100 with a different cursor on every request, so no listing page
-- is ever answered from the page cache: each one is read from the store, built and encoded.
-- The cursors point past every stored connector (the year 2100), so each page is the first 100.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- base64url without padding, as the server hands cursors out.
local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = (c and 4) or (b and 3) or 2
    for j = 1, chars do
      local k = math.floor(n / 2 ^ (6 * (4 - j))) % 64
      out[#out + 1] = alphabet:sub(k + 1, k + 1)
    end
  end
  return table.concat(out)
end

-- Each wrk thread counts in a range of its own.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local n = 0
function init(args)
  n = id * 1000000000
end

request = function()
  n = n + 1
  local cursor = b64url(string.format("%d:conn-ffffffffffffffffffff", 4102444800000 + n))
  return wrk.format("GET", "/v1/connectors?limit=100&cursor=" .. cursor)
end
