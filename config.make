# ngx_tunny_module: the library archives in objs/Makefile.
#
# auto/make sources this file after it wrote objs/Makefile (config set
# TUNNY_*_DIR and TUNNY_*_LIB, and put the archives in LINK_DEPS and in
# the module's libraries).  Each rule builds an archive with the library's
# own Makefile, with nginx's $(CC) and $(CFLAGS), plus -fPIC (it is linked
# into a shared object), its objects next to it in objs/addon/NAME; it
# depends on the library's sources and headers, so an edit rebuilds it.

tunny_archive_rule() {  # NAME DIR LIB DEPS [MAKE ARGS]
    case $NGX_OBJS in
        /*) tunny_out=$NGX_OBJS/addon/$1 ;;
        *)  tunny_out="\$(CURDIR)/$NGX_OBJS/addon/$1" ;;
    esac

    cat << END                                                >> $NGX_MAKEFILE

$3:	$4
	\$(MAKE) -C $2 OUT=$tunny_out $5 \\
	    CC="\$(CC)" CFLAGS="\$(CFLAGS) -fPIC"

END
}

tunny_archive_rule image $TUNNY_IMAGE_DIR $TUNNY_IMAGE_LIB \
    "`tunny_image_make deps`" "AVIF=$TUNNY_IMAGE_AVIF"
tunny_archive_rule compress $TUNNY_COMPRESS_DIR $TUNNY_COMPRESS_LIB \
    "`tunny_compress_make deps`"
