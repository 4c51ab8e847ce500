build-clang/meta/fsck_inode.o: meta/fsck_inode.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/dev.h meta/dir.h \
  meta/extent.h meta/fsck_i.h meta/fsck.h meta/inode.h meta/jrnl.h \
  meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/dir.h:

meta/extent.h:

meta/fsck_i.h:

meta/fsck.h:

meta/inode.h:

meta/jrnl.h:

meta/ondisk.h:
