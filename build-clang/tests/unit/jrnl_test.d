build-clang/tests/unit/jrnl_test.o: tests/unit/jrnl_test.c \
  include/csvfs/errors.h include/csvfs/ondisk.h meta/alloc.h meta/dev.h \
  meta/format.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

meta/alloc.h:

meta/dev.h:

meta/format.h:

meta/jrnl.h:

meta/ondisk.h:
