build-clang/tests/unit/hb_test.o: tests/unit/hb_test.c \
  include/csvfs/errors.h lockd/hb.h include/csvfs/ondisk.h meta/dev.h \
  meta/format.h

include/csvfs/errors.h:

lockd/hb.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/format.h:
