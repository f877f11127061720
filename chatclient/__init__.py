"""A terminal client for the chat site: `python -m chatclient --server URL`.

It signs in with an API token, lists the rooms, joins one over the WebSocket, prints
its recent history and then every new message as `[HH:MM] author: body`, and sends
each line typed. It reconnects by itself and rejoins with the last seq it printed, so
nothing is missed or printed twice. Only the standard library and `websockets`.
docs/clients.md describes it.
"""
