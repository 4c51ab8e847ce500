build-clang/tests/unit/fsck_test.o: tests/unit/fsck_test.c \
  include/csvfs/errors.h meta/alloc.h include/csvfs/ondisk.h meta/dev.h \
  meta/dir.h meta/format.h meta/fsck.h meta/inode.h meta/jrnl.h \
  meta/mds.h include/csvfs/proto.h meta/ondisk.h net/mdc.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/dir.h:

meta/format.h:

meta/fsck.h:

meta/inode.h:

meta/jrnl.h:

meta/mds.h:

include/csvfs/proto.h:

meta/ondisk.h:

net/mdc.h:
