build-clang/tests/unit/mds_space_test.o: tests/unit/mds_space_test.c \
  include/csvfs/errors.h include/csvfs/ondisk.h meta/alloc.h meta/dev.h \
  meta/format.h meta/fsck.h meta/jrnl.h meta/mds.h include/csvfs/proto.h \
  meta/ondisk.h net/mdc.h tests/unit/testmds.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

meta/alloc.h:

meta/dev.h:

meta/format.h:

meta/fsck.h:

meta/jrnl.h:

meta/mds.h:

include/csvfs/proto.h:

meta/ondisk.h:

net/mdc.h:

tests/unit/testmds.h:
