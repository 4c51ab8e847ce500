build-clang/meta/jrnl.o: meta/jrnl.c include/csvfs/errors.h meta/dev.h \
  meta/jrnl.h include/csvfs/ondisk.h meta/ondisk.h

include/csvfs/errors.h:

meta/dev.h:

meta/jrnl.h:

include/csvfs/ondisk.h:

meta/ondisk.h:
