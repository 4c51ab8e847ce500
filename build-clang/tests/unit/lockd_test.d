build-clang/tests/unit/lockd_test.o: tests/unit/lockd_test.c \
  include/csvfs/ondisk.h lockd/lockd.h

include/csvfs/ondisk.h:

lockd/lockd.h:
