"""A Seldon router: route() returns the index of the child that gets the request."""


class ABRouter:
    def __init__(self, n_branches=2):
        self.n_branches = int(n_branches)
        self.rewards = [0.0] * self.n_branches

    def route(self, features, feature_names):
        first = float(features[0][0])
        if first < 0:
            return -2
        return int(first) % self.n_branches

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        if routing is not None:
            self.rewards[routing] += reward

    def tags(self):
        return {"rewards": self.rewards}
