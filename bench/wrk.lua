-- wrk's script for `make bench-serve`: POST one JSON body (the file named by the first argument) on every
-- connection, wait the second argument's milliseconds between requests (0: none), count answers by status, and print
-- one JSON line at the end. The scripting API is wrk's SCRIPTING document (/usr/share/doc/wrk/SCRIPTING.gz).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  pause = tonumber(args[2] or "0")
  statuses = {}
  prepared = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function request()
  return prepared
end

function delay()
  return pause
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency)
  local counts, parts = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    errors.connect + errors.read + errors.write + errors.timeout, table.concat(parts, ", ")))
end
