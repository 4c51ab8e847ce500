build-clang/fs/cluster.o: fs/cluster.c include/csvfs/errors.h \
  fs/cluster.h include/csvfs/ondisk.h fs/log.h lockd/hb.h meta/mds.h \
  include/csvfs/proto.h meta/ondisk.h net/mcache.h net/mdc.h net/msg.h \
  net/memb.h net/rpc.h net/tls.h

include/csvfs/errors.h:

fs/cluster.h:

include/csvfs/ondisk.h:

fs/log.h:

lockd/hb.h:

meta/mds.h:

include/csvfs/proto.h:

meta/ondisk.h:

net/mcache.h:

net/mdc.h:

net/msg.h:

net/memb.h:

net/rpc.h:

net/tls.h:
