build-clang/meta/mkfs_main.o: meta/mkfs_main.c include/csvfs/errors.h \
  meta/dev.h meta/format.h include/csvfs/ondisk.h meta/ondisk.h

include/csvfs/errors.h:

meta/dev.h:

meta/format.h:

include/csvfs/ondisk.h:

meta/ondisk.h:
