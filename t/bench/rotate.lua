-- wrk script of `./ngx_tunny_module bench image`: every request asks for
-- the next file of a list, in turn, under the URL's path.
--
--   wrk ... -s t/bench/rotate.lua http://127.0.0.1:PORT/thumb/ -- LIST
--
-- LIST: one file name a line.  done() prints, over all wrk threads,
-- "status CODE COUNT" per response status, "body_bytes N" and
-- "requests N", so the caller can refuse a round with any failed request.

local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

local names = {}
local next_name = 0

function init(args)
    for line in io.lines(args[1]) do
        if line ~= "" then
            table.insert(names, line)
        end
    end
    if #names == 0 then
        error("rotate.lua: no file names in " .. args[1])
    end
    -- threads start at different places of the list
    next_name = (id or 0) * 7 % #names
    statuses = {}
    body_bytes = 0
end

function request()
    next_name = next_name % #names + 1
    return wrk.format("GET", wrk.path .. names[next_name])
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    body_bytes = body_bytes + #body
end

function done(summary, latency, requests)
    local total, bytes = {}, 0
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses") or {}) do
            total[k] = (total[k] or 0) + v
        end
        bytes = bytes + (t:get("body_bytes") or 0)
    end
    for k, v in pairs(total) do
        io.write(string.format("status %d %d\n", k, v))
    end
    io.write(string.format("body_bytes %d\n", bytes))
    io.write(string.format("requests %d\n", summary.requests))
end
