build-clang/meta/inode.o: meta/inode.c include/csvfs/errors.h \
  include/csvfs/proto.h meta/alloc.h include/csvfs/ondisk.h meta/inode.h \
  meta/jrnl.h meta/ondisk.h

include/csvfs/errors.h:

include/csvfs/proto.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/inode.h:

meta/jrnl.h:

meta/ondisk.h:
