build-clang/net/mcache.o: net/mcache.c net/mcache.h include/csvfs/proto.h

net/mcache.h:

include/csvfs/proto.h:
