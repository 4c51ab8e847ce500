build-clang/net/memb.o: net/memb.c net/memb.h

net/memb.h:
