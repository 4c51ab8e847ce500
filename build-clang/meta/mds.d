build-clang/meta/mds.o: meta/mds.c include/csvfs/errors.h lockd/hb.h \
  include/csvfs/ondisk.h lockd/lockd.h meta/alloc.h meta/dev.h \
  meta/dir.h meta/format.h meta/inode.h meta/jrnl.h meta/mds_i.h \
  include/csvfs/proto.h meta/extent.h meta/mds.h net/msg.h meta/ondisk.h \
  net/mdc.h

include/csvfs/errors.h:

lockd/hb.h:

include/csvfs/ondisk.h:

lockd/lockd.h:

meta/alloc.h:

meta/dev.h:

meta/dir.h:

meta/format.h:

meta/inode.h:

meta/jrnl.h:

meta/mds_i.h:

include/csvfs/proto.h:

meta/extent.h:

meta/mds.h:

net/msg.h:

meta/ondisk.h:

net/mdc.h:
