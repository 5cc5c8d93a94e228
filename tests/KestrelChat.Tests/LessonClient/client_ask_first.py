# A student's variant of the handout client, as several were published: it connects first and asks for
# the nickname afterwards, so "NICK" (and anything after it) waits in the socket while the person types.
# Every recv is compared with 'NICK'; messages go out as FORMAT (argv[3], default '{}: {}') without LF.
import socket
import sys
import threading
import time

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((sys.argv[1], int(sys.argv[2])))
fmt = sys.argv[3] if len(sys.argv) > 3 else '{}: {}'

time.sleep(2)  # the person takes two seconds to type the name
nickname = input("nickname: ")

def receive():
    while True:
        try:
            message = client.recv(1024).decode('utf-8')
            if message == 'NICK':
                client.send(nickname.encode('utf-8'))
            else:
                print(message)
        except:
            print("An error occured!")
            client.close()
            break

def write():
    while True:
        message = fmt.format(nickname, input(''))
        client.send(message.encode('utf-8'))

receive_thread = threading.Thread(target=receive)
receive_thread.start()

write_thread = threading.Thread(target=write)
write_thread.start()
