"""A Seldon ROUTER: routes to the child index in the first feature; records feedback to a file."""

import json
import os


class Picker:
    def route(self, features, feature_names):
        return int(features[0][0])

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        with open(os.environ["PICKER_FEEDBACK_FILE"], "a") as out:
            out.write(json.dumps({"reward": reward, "routing": routing}) + "\n")
        return []
