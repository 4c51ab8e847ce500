build-clang/meta/fsck_super.o: meta/fsck_super.c include/csvfs/errors.h \
  meta/dev.h meta/dir.h include/csvfs/ondisk.h meta/extent.h \
  meta/format.h meta/fsck.h meta/fsck_i.h meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

meta/dev.h:

meta/dir.h:

include/csvfs/ondisk.h:

meta/extent.h:

meta/format.h:

meta/fsck.h:

meta/fsck_i.h:

meta/jrnl.h:

meta/ondisk.h:
