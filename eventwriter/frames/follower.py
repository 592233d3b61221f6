"""placeholder"""
class Follower:  # replaced below
    pass
