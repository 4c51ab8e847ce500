build-clang/tests/unit/ondisk_test.o: tests/unit/ondisk_test.c \
  include/csvfs/errors.h include/csvfs/ondisk.h include/csvfs/proto.h \
  meta/ondisk.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

include/csvfs/proto.h:

meta/ondisk.h:
