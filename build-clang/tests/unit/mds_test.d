build-clang/tests/unit/mds_test.o: tests/unit/mds_test.c \
  include/csvfs/errors.h include/csvfs/ondisk.h meta/dev.h meta/format.h \
  meta/mds.h include/csvfs/proto.h net/mcache.h net/mdc.h \
  tests/unit/testmds.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/format.h:

meta/mds.h:

include/csvfs/proto.h:

net/mcache.h:

net/mdc.h:

tests/unit/testmds.h:
