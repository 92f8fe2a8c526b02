"""Wire schemas shared by client and server: one definition of every JSON body."""
