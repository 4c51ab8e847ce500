build-clang/meta/mds_retry.o: meta/mds_retry.c meta/jrnl.h \
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
