build-clang/meta/fsck_main.o: meta/fsck_main.c include/csvfs/errors.h \
  meta/dev.h meta/fsck.h

include/csvfs/errors.h:

meta/dev.h:

meta/fsck.h:
