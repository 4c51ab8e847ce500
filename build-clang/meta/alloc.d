build-clang/meta/alloc.o: meta/alloc.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/jrnl.h:

meta/ondisk.h:
