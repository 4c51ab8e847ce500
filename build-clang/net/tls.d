build-clang/net/tls.o: net/tls.c net/tls.h

net/tls.h:
