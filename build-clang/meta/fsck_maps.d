build-clang/meta/fsck_maps.o: meta/fsck_maps.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/dev.h meta/fsck_i.h \
  meta/fsck.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/fsck_i.h:

meta/fsck.h:

meta/jrnl.h:

meta/ondisk.h:
