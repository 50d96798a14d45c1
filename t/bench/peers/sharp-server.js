// The sharp peer of `./ngx_tunny_module bench image` (t/bench/image.sh):
// a plain node `http` server doing what the nginx locations do.
//
//   node sharp-server.js CONFIG.json
//
// CONFIG: { "port": N, "static": "/path/1k.txt",
//           "routes": [ { "prefix": "/thumb/", "dir": "/corpus",
//                         "format": "jpeg" | "webp" | "png" | "avif",
//                         "width": 256, "height": 256,
//                         "options": { "quality": 80 },
//                         "animated": false } ] }
//
// GET PREFIX NAME: read DIR/NAME from disk (fs.promises.readFile, on the
// libuv pool), fit it inside WIDTHxHEIGHT without enlarging (sharp
// shrinks JPEGs on load by default), encode as FORMAT with sharp's OPTIONS
// for it (sharp's toFormat) and answer 200.
// "animated": true reads every frame of an animated GIF or WebP (sharp's
// {animated: true}) and writes an animated WebP, each frame resized.
// GET /1k.txt: the static file, read per request with readFileSync in the
// event loop (what nginx's static handler does: a page-cache read in the
// loop), so its latency shows how free the event loop is.
//
// sharp is left at its defaults: sharp.concurrency() libvips threads per
// image, the libuv pool (UV_THREADPOOL_SIZE, 4 when unset) running that
// many images at once, libvips' operation cache as sharp sets it (every
// request decodes a new buffer, so the cache cannot skip the work; turning
// it off measured about 3 % more CPU per thumbnail).
//
// Prints one JSON line with the versions and settings once it listens.

'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const conf = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const sharp = require('sharp');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function fail(res, status, text) {
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(text + '\n');
}

function transform(route, file) {
    return fs.promises.readFile(file).then((buf) => {
        const img = sharp(buf, { animated: route.animated === true })
            .resize(route.width, route.height, {
                fit: 'inside',
                withoutEnlargement: true
            });

        return img.toFormat(route.format, route.options).toBuffer();
    });
}

function handle(req, res) {
    const url = req.url.split('?')[0];
    let route;

    if (req.method !== 'GET') {
        return fail(res, 405, 'GET only');
    }

    if (url === '/1k.txt') {
        const body = fs.readFileSync(conf.static);
        res.writeHead(200, { 'Content-Type': 'text/plain',
                             'Content-Length': body.length });
        return res.end(body);
    }

    route = conf.routes.find((r) => url.startsWith(r.prefix));
    const name = route && url.slice(route.prefix.length);

    if (!route || !NAME.test(name)) {
        return fail(res, 404, 'not found');
    }

    transform(route, path.join(route.dir, name)).then((out) => {
        res.writeHead(200, { 'Content-Type': 'image/' + route.format,
                             'Content-Length': out.length });
        res.end(out);
    }, (err) => {
        fail(res, err.code === 'ENOENT' ? 404 : 500, String(err));
    });
}

const server = http.createServer(handle);

// a client that goes away mid-request (wrk at the end of a round) is not
// an error of the server
server.on('clientError', (err, socket) => socket.destroy());

process.on('SIGTERM', () => process.exit(0));

server.listen(conf.port, '127.0.0.1', () => {
    console.log(JSON.stringify({
        listening: conf.port,
        pid: process.pid,
        node: process.version,
        sharp: sharp.versions.sharp,
        vips: sharp.versions.vips,
        concurrency: sharp.concurrency(),
        uv_threadpool_size: process.env.UV_THREADPOOL_SIZE || '4 (unset)',
        simd: sharp.simd(),
        cache: sharp.cache()
    }));
});
