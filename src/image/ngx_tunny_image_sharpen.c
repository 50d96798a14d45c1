
/*
 * ngx_tunny_module: the sharpen step of the image library: an unsharp
 * mask with a 3x3 [1 2 1] blur, amount = percent / 100 (at most 500%);
 * alpha is copied unchanged.
 *
 * Runs in the thread of ngx_tunny_image_process().
 */


#include "ngx_tunny_image_int.h"


int
ngx_tunny_image_sharpen(ngx_tunny_image_run_t *run, int percent)
{
    int                     rc, amount, v, b;
    unsigned                x, y, c, ch, w, h, xl, xr;
    unsigned char          *d;
    const unsigned char    *up, *mid, *dn;
    ngx_tunny_image_pix_t   out, *pix;

    pix = &run->pix;
    w = pix->width;
    h = pix->height;
    ch = pix->channels;

    if (percent > 500) {
        percent = 500;
    }

    amount = percent * 256 / 100;

    rc = ngx_tunny_image_pix_next(run, &out, w, h, ch,
                                  "out of memory sharpening");
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    for (y = 0; y < h; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        mid = pix->data + y * pix->stride;
        up = y ? mid - pix->stride : mid;
        dn = (y + 1 < h) ? mid + pix->stride : mid;
        d = out.data + y * out.stride;

        for (x = 0; x < w; x++) {
            xl = (x ? x - 1 : 0) * ch;
            xr = (x + 1 < w ? x + 1 : x) * ch;

            for (c = 0; c < ch; c++) {
                unsigned  xc = x * ch + c;

                if (c == 3) {
                    d[xc] = mid[xc];
                    continue;
                }

                b = up[xl + c] + 2 * up[xc] + up[xr + c]
                    + 2 * (mid[xl + c] + 2 * mid[xc] + mid[xr + c])
                    + dn[xl + c] + 2 * dn[xc] + dn[xr + c];

                /* b is 16 * blur */

                v = mid[xc] + (((mid[xc] * 16 - b) * amount) >> 12);
                d[xc] = (unsigned char) (v < 0 ? 0 : (v > 255 ? 255 : v));
            }
        }
    }

    run->pix = out;

    return NGX_TUNNY_IMAGE_OK;
}
