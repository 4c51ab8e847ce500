build-clang/meta/mds_space.o: meta/mds_space.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/dev.h meta/format.h \
  meta/inode.h meta/jrnl.h meta/mds_i.h include/csvfs/proto.h \
  meta/extent.h meta/mds.h net/msg.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/format.h:

meta/inode.h:

meta/jrnl.h:

meta/mds_i.h:

include/csvfs/proto.h:

meta/extent.h:

meta/mds.h:

net/msg.h:

meta/ondisk.h:
