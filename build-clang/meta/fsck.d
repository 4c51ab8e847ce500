build-clang/meta/fsck.o: meta/fsck.c include/csvfs/errors.h meta/alloc.h \
  include/csvfs/ondisk.h meta/dev.h meta/dir.h meta/extent.h \
  meta/format.h meta/fsck.h meta/fsck_i.h meta/inode.h meta/jrnl.h \
  meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/dir.h:

meta/extent.h:

meta/format.h:

meta/fsck.h:

meta/fsck_i.h:

meta/inode.h:

meta/jrnl.h:

meta/ondisk.h:
