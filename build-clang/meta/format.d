build-clang/meta/format.o: meta/format.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/dev.h meta/dir.h \
  meta/format.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/dir.h:

meta/format.h:

meta/jrnl.h:

meta/ondisk.h:
