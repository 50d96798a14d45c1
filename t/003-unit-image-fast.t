# The exact JPEG shortcuts of the image library (the DC-only decode of
# progressive JPEGs at 1/8, the region decode of crop) against the whole
# decode, bit for bit: t/unit/test_image_fast.c, built and run by
# t/unit/run.sh, prints TAP for prove.
exec 'sh', 't/unit/run.sh', 'test_image_fast'
    or die "cannot run t/unit/run.sh: $!";
