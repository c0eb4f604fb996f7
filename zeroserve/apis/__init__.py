"""API types shared by every component: KServe's and Knative's kinds, per group and version.

Each group/version package has four modules, in the manner of knative's ``pkg/apis``:
``types`` (pydantic models, camelCase on the wire, unknown fields kept), ``defaults`` (pure
functions returning a defaulted copy), ``validation`` (every error with its field path) and
``lifecycle`` (condition sets and ``mark_*`` / ``propagate_*`` helpers).

==========================================  =====================================================
package                                     kinds
==========================================  =====================================================
``zeroserve.apis.serving.v1beta1``          InferenceService (``serving.kserve.io/v1beta1``)
``zeroserve.apis.serving.v1alpha1``         InferenceGraph (``serving.kserve.io/v1alpha1``)
``zeroserve.apis.knative.serving.v1``       Service, Configuration, Revision, Route
``zeroserve.apis.knative.eventing.v1``      Broker, Trigger
``zeroserve.apis.gateway.v1``               HTTPRoute (the subset the controller uses)
==========================================  =====================================================

Shared modules: :mod:`.meta` (model bases, ObjectMeta, Condition, Status), :mod:`.core` (loose
container and pod types), :mod:`.conditions` (condition sets), :mod:`.field_errors`,
:mod:`.names` (DNS label rules), :mod:`.serving.autoscaling` (scaling rules shared by KServe's
kinds), and :mod:`.crds` (``all_crds()``: the CRDs the embedded API server installs, generated from
these types; :mod:`.structural` turns pydantic JSON schemas into structural CRD schemas).

zeroserve extensions that keep KServe YAML valid: A/B/N traffic splits
(:mod:`.serving.v1beta1.traffic_split`, annotation ``serving.zeroserve.io/traffic``) and bandit
graph nodes (annotation ``serving.zeroserve.io/bandit``, see :mod:`.serving.v1alpha1.types`).
"""
