# The nginx-free image library (src/image): its C unit tests,
# built and run by t/unit/run.sh, print TAP for prove.
exec 'sh', 't/unit/run.sh' or die "cannot run t/unit/run.sh: $!";
