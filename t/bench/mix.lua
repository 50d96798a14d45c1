-- wrk script for t/bench/soak.sh and reload.sh: a weighted mix of image
-- requests, counting every response status.
--
--   wrk ... -s t/bench/mix.lua URL -- MODE HOSTILE_DIR UPLOAD_FILE
--
-- MODE "mix": thumbnails (JPEG, WebP, EXIF, ICC, grey, CMYK), WebP
--             conversion, size, uploads (POST) and the hostile corpus
--             (MANIFEST of t/tools/gen-hostile, files up to 64 KB);
-- MODE "images": the same without the hostile corpus (only valid images:
--             every answer is a 200 unless the server sheds load);
-- MODE "path": the URL's path only (bursts, deadlines), status counting.
--
-- done() prints one line per status: "status 200 12345", and
-- "requests N" for the whole run.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

local mode, paths, hostile_paths, upload

local images = {
    "quad-land.jpg", "quad-port.jpg", "quad-square.webp", "quad-land.webp",
    "icc-exif.jpg", "orient-6.jpg", "orient-3.jpg", "gray.jpg", "cmyk.jpg",
    "progressive.jpg", "alpha.webp", "icc.webp"
}

function init(args)
    mode = args[1] or "path"
    statuses = {}
    math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))

    if mode ~= "mix" and mode ~= "images" then
        return
    end

    paths = {}

    -- per request (request()): 10% uploads, 25% hostile files, the rest
    -- thumbnails : WebP out : size = 48 : 12 : 3
    for _, img in ipairs(images) do
        for i = 1, 4 do table.insert(paths, "/img/" .. img) end
        table.insert(paths, "/webp/" .. img)
    end
    for i = 1, 3 do
        table.insert(paths, "/size/" .. images[i])
    end

    local dir = args[2]
    local hostile = {}
    local m = mode == "mix" and dir and io.open(dir .. "/MANIFEST", "r")
    if m then
        for line in m:lines() do
            local name = line:match("^([^#%s]%S*) ")
            if name then
                local f = io.open(dir .. "/" .. name, "rb")
                local size = f and f:seek("end") or 0
                if f then f:close() end
                if size <= 65536 then
                    table.insert(hostile, "/hostile/" .. name)
                end
            end
        end
        m:close()
    end
    hostile_paths = hostile

    local f = args[3] and io.open(args[3], "rb")
    if f then
        local h = { ["Content-Type"] = "image/jpeg" }
        for k, v in pairs(wrk.headers) do
            h[k] = v
        end
        upload = wrk.format("POST", "/upload", h, f:read("*a"))
        f:close()
    end
end

function request()
    if mode == "path" then
        return wrk.request()
    end
    local r = math.random(100)
    if upload and r <= 10 then
        return upload
    end
    if r <= 35 and #hostile_paths > 0 then
        return wrk.format("GET", hostile_paths[math.random(#hostile_paths)])
    end
    return wrk.format("GET", paths[math.random(#paths)])
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        local s = t:get("statuses")
        for k, v in pairs(s or {}) do
            total[k] = (total[k] or 0) + v
        end
    end
    for k, v in pairs(total) do
        io.write(string.format("status %d %d\n", k, v))
    end
    io.write(string.format("requests %d\n", summary.requests))
    local e = summary.errors
    io.write(string.format("errors connect %d read %d write %d status %d "
                           .. "timeout %d\n", e.connect, e.read, e.write,
                           e.status, e.timeout))
end
