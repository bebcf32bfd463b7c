-- wrk script used by bench.checkin_throughput: POST /aluno/checkin, one check-in per request.
--
-- Every request has its own checkin_id (run prefix, thread number, counter) and a random member
-- among BENCH_MEMBER_FIRST..BENCH_MEMBER_LAST. Every checkin_id answered 202 is appended to
-- <BENCH_OUT>.<thread>.ids, so the benchmark can prove that each one reached PostgreSQL; the
-- summary (status counts, socket errors, latency percentiles) goes to <BENCH_OUT>.json.

local out = os.getenv("BENCH_OUT")
local run = os.getenv("BENCH_RUN")
local first = tonumber(os.getenv("BENCH_MEMBER_FIRST"))
local last = tonumber(os.getenv("BENCH_MEMBER_LAST"))
local api_key = os.getenv("BENCH_API_KEY") or ""
local path = os.getenv("BENCH_PATH") or "/aluno/checkin"

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   counter = 0
   accepted = 0
   statuses = {}
   math.randomseed(os.time() * 1000 + tid)
   ids = io.open(string.format("%s.%d.ids", out, tid), "w")
   ids:setvbuf("line")
   request_headers = { ["Content-Type"] = "application/json" }
   if api_key ~= "" then
      request_headers["X-API-Key"] = api_key
   end
end

function request()
   counter = counter + 1
   local id = string.format("%s-%04x-4000-8000-%012x", run, tid, counter)
   local tipo = (counter % 2 == 0) and "saida" or "entrada"
   local body = string.format(
      '{"checkin_id":"%s","aluno_id":%d,"tipo":"%s"}', id, math.random(first, last), tipo)
   return wrk.format("POST", path, request_headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 202 then
      accepted = accepted + 1
      ids:write(string.match(body, '"checkin_id":"([%x%-]+)"'), "\n")
   end
end

function done(summary, latency, requests)
   local total, by_status, parts = 0, {}, {}
   for _, thread in ipairs(threads) do
      total = total + thread:get("accepted")
      for code, n in pairs(thread:get("statuses")) do
         by_status[code] = (by_status[code] or 0) + n
      end
   end
   for code, n in pairs(by_status) do
      table.insert(parts, string.format('"%d":%d', code, n))
   end
   local e = summary.errors
   local f = io.open(out .. ".json", "w")
   f:write(string.format(
      '{"loadgen":"wrk","requests":%d,"duration_s":%.6f,"accepted":%d,"statuses":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f,"mean":%.3f}}',
      summary.requests, summary.duration / 1e6, total, table.concat(parts, ","),
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
      latency.max / 1000, latency.mean / 1000))
   f:close()
end
