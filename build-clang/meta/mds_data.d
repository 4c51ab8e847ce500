build-clang/meta/mds_data.o: meta/mds_data.c include/csvfs/errors.h \
  meta/alloc.h include/csvfs/ondisk.h meta/dev.h meta/inode.h \
  meta/jrnl.h meta/mds_i.h include/csvfs/proto.h meta/extent.h \
  meta/mds.h net/msg.h meta/ondisk.h

include/csvfs/errors.h:

meta/alloc.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/inode.h:

meta/jrnl.h:

meta/mds_i.h:

include/csvfs/proto.h:

meta/extent.h:

meta/mds.h:

net/msg.h:

meta/ondisk.h:
