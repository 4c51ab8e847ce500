build-clang/tests/unit/dir_test.o: tests/unit/dir_test.c \
  include/csvfs/errors.h include/csvfs/ondisk.h meta/alloc.h meta/dev.h \
  meta/dir.h meta/format.h meta/jrnl.h meta/ondisk.h \
  tests/unit/testvol.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

meta/alloc.h:

meta/dev.h:

meta/dir.h:

meta/format.h:

meta/jrnl.h:

meta/ondisk.h:

tests/unit/testvol.h:
