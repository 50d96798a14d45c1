# The nginx-free compression layer (src/compress): its C unit tests,
# built and run by t/unit/run-compress.sh, print TAP for prove.
exec 'sh', 't/unit/run-compress.sh' or die "cannot run t/unit/run-compress.sh: $!";
