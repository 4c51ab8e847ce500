build-neg/meta/mds_lock.o: meta/mds_lock.c lockd/hb.h \
 include/csvfs/ondisk.h lockd/plock.h meta/mds_i.h include/csvfs/proto.h \
 meta/extent.h meta/mds.h net/msg.h
lockd/hb.h:
include/csvfs/ondisk.h:
lockd/plock.h:
meta/mds_i.h:
include/csvfs/proto.h:
meta/extent.h:
meta/mds.h:
net/msg.h:
