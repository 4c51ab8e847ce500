build-clang/meta/mds_inval.o: meta/mds_inval.c meta/jrnl.h \
  include/csvfs/ondisk.h meta/mds_i.h include/csvfs/proto.h \
  meta/extent.h meta/mds.h net/msg.h meta/ondisk.h

meta/jrnl.h:

include/csvfs/ondisk.h:

meta/mds_i.h:

include/csvfs/proto.h:

meta/extent.h:

meta/mds.h:

net/msg.h:

meta/ondisk.h:
