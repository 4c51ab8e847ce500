build-clang/net/keyfile.o: net/keyfile.c net/keyfile.h

net/keyfile.h:
