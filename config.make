# ngx_tunny_module: the image library archive in objs/Makefile.
#
# auto/make sources this file after it wrote objs/Makefile (config set
# TUNNY_IMAGE_DIR and TUNNY_IMAGE_LIB, and put the archive in LINK_DEPS
# and in the module's libraries).  The rule builds it with src/image/Makefile,
# with nginx's $(CC) and $(CFLAGS), plus -fPIC (it is linked into a shared
# object), its objects next to it in objs/addon/image; it depends on the
# library's sources and headers, so an edit rebuilds it.

case $NGX_OBJS in
    /*) tunny_image_out=$NGX_OBJS/addon/image ;;
    *)  tunny_image_out="\$(CURDIR)/$NGX_OBJS/addon/image" ;;
esac

cat << END                                                    >> $NGX_MAKEFILE

$TUNNY_IMAGE_LIB:	`tunny_image_make deps`
	\$(MAKE) -C $TUNNY_IMAGE_DIR OUT=$tunny_image_out \\
	    CC="\$(CC)" CFLAGS="\$(CFLAGS) -fPIC"

END
