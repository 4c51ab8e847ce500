build-clang/meta/dir.o: meta/dir.c include/csvfs/errors.h meta/alloc.h \
  include/csvfs/ondisk.h meta/dir.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dir.h:

meta/jrnl.h:

meta/ondisk.h:
