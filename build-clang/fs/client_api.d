build-clang/fs/client_api.o: fs/client_api.c fs/client_api.h

fs/client_api.h:
