build-clang/meta/extent.o: meta/extent.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/extent.h meta/jrnl.h \
  meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/extent.h:

meta/jrnl.h:

meta/ondisk.h:
